//! Lessons: YAML files of steps, loaded, linted, and run against the lab.

pub mod expect;
pub mod lint;
pub mod load;
mod locate;
pub mod model;
pub mod progress;

pub use model::{Lesson, Step};
