SELECT normal_cdf(0), normal_cdf(-37.5), normal_cdf(1e308), normal_cdf(NULL), normal_cdf('x'), normal_quantile(0.975), normal_quantile(1e-300), normal_quantile(0), normal_quantile(x'00');
