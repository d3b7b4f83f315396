mod analyze;
mod hostile;
mod ops;
mod portfolio;
mod referrals;
mod signin;
