mod signin;
