//! `prepare` and `cook`: dependency skeletons for cached builds. (Issue 3.)
