mod analyze;
mod analyze_pool;
mod hostile;
mod mail_outage;
mod ops;
mod portfolio;
mod referrals;
mod signin;
