//! `bel serve` against a live cluster: each test makes its own database and starts its
//! own server in-process on a free port. Run through `bash scripts/test.sh http`.
mod cache;
mod capacity;
mod errors;
mod follow;
mod long_poll;
mod outage;
mod tls;
mod views;
