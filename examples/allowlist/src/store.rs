//! Where allowed addresses live: a set in this process's memory (the
//! default, lost on restart) or a Redis set shared by every replica (when
//! `REDIS_URL` is set). Handlers see one type and never care which.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The Redis key of the set holding the canonical addresses.
pub const REDIS_KEY: &str = "allowlist:addresses";

/// The storage backend. Cloning is cheap (shared handles).
#[derive(Clone)]
pub enum Store {
    Memory(Arc<RwLock<HashSet<String>>>),
    Redis(ConnectionManager),
}

/// A storage failure (only Redis can fail).
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError(format!("redis: {e}"))
    }
}

impl Store {
    /// An empty in-memory set.
    pub fn memory() -> Store {
        Store::Memory(Arc::default())
    }

    /// A connection to the Redis server at `url`, checked with a PING so a
    /// wrong URL fails at startup rather than on the first request.
    pub async fn redis(url: &str) -> Result<Store, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError(format!("invalid REDIS_URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| StoreError(format!("cannot connect to Redis: {e}")))?;
        let store = Store::Redis(conn);
        store.ping().await?;
        Ok(store)
    }

    /// The backend's name, for logs and `/healthz`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// Whether the canonical `address` is allowed.
    pub async fn contains(&self, address: &str) -> Result<bool, StoreError> {
        match self {
            Store::Memory(set) => Ok(read(set).contains(address)),
            Store::Redis(conn) => Ok(redis::cmd("SISMEMBER")
                .arg(REDIS_KEY)
                .arg(address)
                .query_async::<bool>(&mut conn.clone())
                .await?),
        }
    }

    /// Adds the canonical `address`; true when it was not there before.
    pub async fn insert(&self, address: String) -> Result<bool, StoreError> {
        match self {
            Store::Memory(set) => Ok(set
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(address)),
            Store::Redis(conn) => Ok(redis::cmd("SADD")
                .arg(REDIS_KEY)
                .arg(address)
                .query_async::<i64>(&mut conn.clone())
                .await?
                == 1),
        }
    }

    /// Whether the backend answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Memory(set) => {
                drop(read(set));
                Ok(())
            }
            Store::Redis(conn) => {
                let pong: String = redis::cmd("PING").query_async(&mut conn.clone()).await?;
                if pong == "PONG" {
                    Ok(())
                } else {
                    Err(StoreError(format!("redis: PING answered {pong:?}")))
                }
            }
        }
    }
}

/// A read guard; a panic in another holder does not make the set unusable
/// (every write is a single `insert`, so the set is never half-updated).
fn read(set: &RwLock<HashSet<String>>) -> std::sync::RwLockReadGuard<'_, HashSet<String>> {
    set.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}
