from .views import dispatch, home, projects

app_name = "tracker"

# Each view module owns its own routes; this list only joins them.
urlpatterns = [*home.urlpatterns, *projects.urlpatterns, *dispatch.urlpatterns]
