//! Helpers shared by integration tests.
#![allow(dead_code)]

pub mod crawl;
pub mod db_compare;
pub mod delivery;
pub mod odoo_fixture;
pub mod prod_like;
pub mod real_odoo;
pub mod s3;
pub mod sshd;
