//! Markdown rendering, for the book.
