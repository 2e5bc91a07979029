from .views import (
    bulk,
    dashboard,
    dispatch,
    home,
    imports,
    jobs,
    problems,
    projects,
    reports,
    reviews,
    saved_views,
)

app_name = "tracker"

# Each view module owns its own routes; this list only joins them.
urlpatterns = [
    *home.urlpatterns,
    *projects.urlpatterns,
    *bulk.urlpatterns,
    *dispatch.urlpatterns,
    *dashboard.urlpatterns,
    *reports.urlpatterns,
    *reviews.urlpatterns,
    *problems.urlpatterns,
    *jobs.urlpatterns,
    *imports.urlpatterns,
    *saved_views.urlpatterns,
]
