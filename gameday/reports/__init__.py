"""Reports for reviews, all fed by the same per-test records (gameday/reports/model.py).

    plugin.py        pytest hooks: gather records while the run is alive, write at session end
    model.py         TestRecord / RunRecord and the scenario verdict
    readiness.py     ready pods per zone from Prometheus, for the timeline chart
    redact.py        the run's secrets, scrubbed from every file written
    charts.py        plotly figures (timeline, trend); plotly.js inline, no external links
    html.py          index.html (template.html) and trend.html
    junit.py         junit.xml with SLO verdicts as properties
    trend.py         trend.json across every run's summary.json
    build.py         writes the file reports of a run
    allure_sink.py   Allure steps per phase and fault, attachments (with --alluredir)
    allure_html.py   the Allure 3 single-file page, Tag Manager stripped (when `allure` exists)
    testing.py       sample evidence for report tests
"""
