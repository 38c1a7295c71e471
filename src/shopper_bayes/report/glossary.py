"""Plain-words explanations of the terms the report uses; a section lists the terms it uses."""

GLOSSARY = {
    "posterior": "What the model believes about a quantity after seeing the data: a distribution, not one number.",
    "credible interval": "CrI. A range that holds the quantity with the stated probability (for example 95%), "
                         "given the data, the model and the prior.",
    "P(A > B)": "The probability, under the model, that A's value is higher than B's.",
    "expected loss": "What choosing an option gives up on average compared with the truly best one.",
    "posterior predictive": "Data the fitted model expects to see next, with all its uncertainty; checking real "
                            "data against it shows whether the model fits.",
    "posterior predictive p-value": "The share of data sets replicated from the fitted model whose check statistic is at "
                                    "least as large as the real data's; near 0 or 1, the model does not reproduce the "
                                    "data in that respect.",
    "lift": "The relative difference A / B − 1 between two rates: +40% means A's rate is 1.4 times B's.",
    "rank histogram": "An MCMC check: each chain's draws ranked among all chains' draws and counted in bins; when the "
                      "chains agree, every chain's bars are flat up to chance.",
    "plug-in": "A calculation that treats an estimate (for example an observed rate) as if it were known exactly; "
               "it ignores uncertainty and so overstates confidence.",
    "pp": "Percentage points: the difference between two percentages (5% to 7% is +2 pp, or +40% relative).",
    "ELPD": "Expected log predictive density: how well a model predicts data it has not seen; higher is better.",
    "PSIS-LOO": "Leave-one-out cross-validation computed from one fit by Pareto-smoothed importance sampling.",
    "Pareto k": "A reliability check of PSIS-LOO per observation; above 0.7 the estimate for it is unreliable.",
    "bootstrap interval": "An interval from re-computing a statistic on many resamples of the data drawn with "
                          "replacement.",
    "Bag of Little Bootstraps": "A bootstrap for data too large to resample: small random subsets of the rows are "
                                "each resampled with weights standing for all rows, and their intervals averaged.",
    "BCa": "Bias-corrected and accelerated bootstrap interval: adjusts the percentile interval for bias and skew.",
    "R-hat": "Compares the chains of an MCMC fit; above 1.01 the chains disagree and the fit has not converged.",
    "ESS": "Effective sample size: how many independent draws the correlated MCMC draws are worth.",
    "divergences": "Steps where the sampler failed to follow the posterior; any divergence makes the results suspect.",
    "BFMI": "Bayesian fraction of missing information: below 0.3 the sampler explores the posterior poorly.",
    "MCMC": "Markov chain Monte Carlo: drawing from the posterior by a random walk, checked by R-hat and ESS.",
    "exact conjugate posterior": "A posterior known in closed form and drawn directly, with no MCMC and nothing "
                                 "to converge.",
    "partial pooling": "Small groups borrow strength from the whole: their estimates are pulled toward the overall "
                       "mean in proportion to how little data they have.",
    "Dirichlet interval": "The interval of a share from the Dirichlet posterior of all shares together.",
    "odds ratio": "How the odds of buying change for a one-standard-deviation (or one-level) change in an input; "
                  "1 means no change.",
    "marginal effect": "The change in purchase probability, in percentage points, averaged over the sessions.",
    "AUC": "Area under the ROC curve: the probability that a random buyer gets a higher predicted probability "
           "than a random non-buyer (0.5 is guessing, 1 is perfect).",
    "Brier score": "Mean squared error of predicted probabilities; lower is better.",
    "Gini coefficient": "Inequality of revenue across customers: 0 if all spend the same, near 1 if one customer "
                        "brings everything.",
    "churn": "A customer counts as churned after no purchase for longer than the configured number of days.",
    "cohort": "Customers grouped by the month of their first purchase.",
    "CLV": "Customer lifetime value: the discounted revenue a customer is expected to bring over the horizon.",
    "P(alive)": "The probability that a customer has not yet dropped out for good.",
    "MAP": "Maximum a posteriori: the single most probable parameter values, without uncertainty.",
    "ROI": "Return on investment: (revenue − spend) / spend.",
    "CTR": "Click-through rate: clicks per impression.",
    "CPL": "Cost per lead: spend / leads.",
    "CAC": "Customer acquisition cost: spend / conversions.",
    "posterior predictive check": "Data replicated from the fitted model compared with the real data on some "
                                  "statistic; a check fails when the real value lies outside what the model replicates.",
    "prior predictive check": "Data simulated from the priors alone, before seeing the data: shows whether the priors "
                              "allow plausible values without dictating them.",
    "bootstrap": "Re-computing a statistic on many resamples of the data drawn with replacement, to see how much it "
                 "would vary.",
    "Bayesian bootstrap": "A bootstrap that reweights the rows with random Dirichlet weights instead of resampling "
                          "them; its draws act as a posterior for means and shares.",
    "Dirichlet": "A distribution over a set of shares that add up to 1; the posterior of shares counted in categories.",
    "holdout": "Data kept out of the fit and used only to check the model's predictions.",
    "calibration": "Whether predicted probabilities come true as often as predicted (of sessions given 20%, about "
                   "20% buy).",
    "BG/NBD": "Beta-geometric / negative binomial model of repeat purchases: customers buy at their own rate until "
              "they drop out for good, with a chance of dropping out after each purchase.",
    "Pareto/NBD": "Like the BG/NBD, but customers may drop out at any time, not only after a purchase.",
    "Gamma-Gamma": "A model of the spend per purchase: each customer has their own mean spend, drawn from a "
                   "population distribution.",
    "Lorenz curve": "The cumulative share of revenue against the share of customers, least spending first; the "
                    "further below the diagonal, the more unequal.",
    "over-dispersion": "More variation between counts than a simple Poisson or binomial model allows: here, ads of "
                       "one audience differing beyond chance.",
    "bounce rate": "The share of visitors who entered on a page and left without another request (Google "
                   "Analytics' measure, averaged over the pages of a session).",
    "exit rate": "The share of page views that were the last of their session, averaged over the pages of a session.",
    "page value": "Google Analytics' average value of the pages visited before a purchase; positive only on pages "
                  "that led to purchases, so it partly records a purchase itself.",
    "purchase day": "A distinct day with at least one purchase by the customer (several purchases on one day count "
                    "once).",
}
