//! `init`: Dockerfile, .dockerignore and CI workflow templates. (Issue 7.)
