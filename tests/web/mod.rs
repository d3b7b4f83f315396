mod hostile;
mod referrals;
mod signin;
