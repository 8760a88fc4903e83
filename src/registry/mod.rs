//! The distribution API client: push, pull, auth. (Issue 5.)
