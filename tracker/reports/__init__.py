"""月通报: the monthly report, computed as of the month's last day, published as frozen JSON.

The package, one job per module:

``rates``       the as-of context (``AsOf``) and the rate definitions (``RATES``), evaluated
                by ``rate_figures`` (the annual assessment uses them too);
``assembly``    the report of a month as JSON-ready data (``compute_report``), which months can
                be reported, and the reader's view of the red/yellow list (``warnings_for``);
``publishing``  freezing a month as a numbered version (``publish_monthly_report``);
``xlsx``        the XLSX file, written from the JSON only (``report_xlsx``).

As of a day
    A month's report is computed as of its last day D. Stages come from the stage history
    (``StageChange.effective_on <= D``), the completed investment from the latest weekly
    dispatch of a week that began on or before D, warning lights from
    ``lights.annotate_lights(..., today=D, investment_from_dispatch=True)``. Nothing reads the
    project's current stage or current investment figure, so later edits do not change a past
    month.

Year to date (YTD)
    Projects signed from 1 January of D's year up to D. The rates below count over that set;
    "signed this month" counts those signed in the month itself.

Rates
    Each rate is defined once, in ``RATES`` (key, label, numerator and denominator as text
    and as database expressions), as of a day D (``AsOf``) and, for the dispatch rate, over a
    period: the weeks whose deadline falls in it. The monthly report's D is the month's last
    day and its period the month; the annual assessment (``tracker.assessments``) evaluates
    the same RATES through ``rate_figures`` with D at the year's end and the year as the
    period, so the December report's year-to-date rates are the assessment's. The
    computation, the footnote on the page, the definitions sheet of the XLSX and the
    assessment's page all read that list. A rate whose denominator is 0 is None
    ("—"), never 0 %. Rates are percentages rounded half-up to two decimals; the change from
    last month is in percentage points (this month's rate − last month's, both as of their
    last day; January compares with December of the year before).

Ranking
    Only regions with ``Region.ranked_in_assessment`` are ranked, by ``ranking_keys()``
    (settings.TRACKER["REPORT_RANKING"]), by default: 开工率, then 资金到位率, then 履约率
    (each higher first; a region without projects signed in the year has no rates and ranks
    last), then the region's sort order. Regions not ranked are shown after the ranked
    ones, without a rank.

Which months
    A month can be reported once it has ended (D before today) and if a project had been
    signed by D; earlier or later months, and months outside 2000–2100, are refused.

Who
    The report's figures are a city-wide document: every signed-in role may read the tables
    and rates (live or published); only managers publish (``publish_monthly_report`` refuses
    others; the view answers 403). The list of red and yellow projects names projects, so each
    reader sees only the rows of ``Project.objects.visible_to(user)`` (``warnings_for``):
    managers and county staff all of them, a commissioner their own projects, a chain office
    its chain's, with the number of rows left out. The filter is applied when the report is
    shown or exported, by project code; the frozen JSON keeps the whole list.

Lights of a past year
    The investment light measures against the project's annual plan, which is the current
    year's (``lights.invest_light_applies``): a month of a past year shows the start light and
    the stalled rule only, so its lights never depend on when the book was loaded. The footnote
    says so (``lights_note``).

Publishing
    ``publish_monthly_report`` freezes ``compute_report(...)`` as JSON (Decimals as strings,
    dates ISO, texts in Simplified Chinese, the official language of the 通报) in
    ``MonthlyReport.data`` with the next version number. A published version is rendered only
    from that JSON. A second or later version needs a reason. Two concurrent publishes of the
    same month collide on the unique (year, month, version) constraint: the loser retries with
    the next number (a few times), so both end up as distinct versions.

Queries
    A report costs a fixed number of queries whatever the number of projects: one grouped
    query over projects by (region, chain, light) for this month and last month together
    (last month's rates annotated on the same rows under a tag, ``AsOf.tag``, and counted over
    the projects signed by its own last day, ``rates.within``; the joins that do not depend
    on the day are shared), two over problems by region and by chain and one for the city,
    one for the red/yellow list and two for the region and chain names. The dispatch rate's
    reports due and on time are two numbers per project computed from its week range (see
    ``_timeliness_aliases``), so the SQL does not grow with the number of weeks either. The
    page's bounded list (``REPORT_WARNINGS_ON_PAGE``) reads, for a reader who sees every
    project, only the regions holding its first red projects (from the grouped counts).
"""
