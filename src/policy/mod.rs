//! Policy (helper writing).
