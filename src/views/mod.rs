//! HTML, written with maud: the layout and one file per page. Views take
//! plain values and never touch the database.

pub mod auth;
pub mod billing;
pub mod chart;
pub mod error;
pub mod history;
pub mod holdings;
pub mod landing;
pub mod layout;
pub mod leaving;
pub mod portfolio;
pub mod settings;
