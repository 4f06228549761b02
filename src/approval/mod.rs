//! Approvals (helper writing).
