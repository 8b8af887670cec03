//! The problem ledger (问题清单 / 工作台账, contract §11): what enterprises report in 存在问题及诉求,
//! read into categories, opened, tracked and closed (销号) across dates.

pub mod classify;
