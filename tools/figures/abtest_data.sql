-- abtest_data.sql - abtest.tsv, the data of the A/B test figure (the
-- paper's Fig. 7), for the experiment named in the temp table
-- figure_experiment(experiment); read by tools/figures/render.sh after
-- data.sql (whose figure_methods names the variants that are methods).
-- Rows: each variant but the control, then for display-to-stream and
-- display-to-favorite the lift over the control and its confidence
-- interval (in %), and the p-value; NaN where undefined.
.bail on

SELECT raise_error('figures: experiment ' || quote(experiment)
                   || ' has no impressions in ab_impressions')
FROM temp.figure_experiment
WHERE NOT EXISTS (SELECT 1 FROM ab_results AS r WHERE r.experiment = figure_experiment.experiment);

.output abtest.tsv
.mode tabs
.headers on
.nullvalue NaN
SELECT coalesce(m.label, s.variant) AS variant,
       round(100 * s.lift, 4) AS "display-to-stream", round(100 * s.lift_low, 4) AS low,
       round(100 * s.lift_high, 4) AS high, s.p_value AS p,
       round(100 * f.lift, 4) AS "display-to-favorite", round(100 * f.lift_low, 4) AS low,
       round(100 * f.lift_high, 4) AS high, f.p_value AS p
FROM ab_results AS s
JOIN ab_results AS f USING (experiment, variant)
LEFT JOIN temp.figure_methods AS m ON m.method = s.variant
WHERE s.experiment = (SELECT experiment FROM temp.figure_experiment)
  AND s.metric = 'display_to_stream' AND f.metric = 'display_to_favorite'
  AND NOT s.is_control
ORDER BY coalesce(m.ord, 100), s.variant;
