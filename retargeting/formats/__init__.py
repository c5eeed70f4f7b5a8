"""Django's formats where Relance departs from them (``FORMAT_MODULE_PATH``): times are 24-hour
in English too, as in campaigns.dashboard.formatting ("14:51", never "2:51 p.m."), so that the
admin's lists and pages read the same clock as the dashboard."""
