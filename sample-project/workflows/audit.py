"""Runs beside the admin page's static reply: its return value is ignored, its side effect is not."""

import logging

log = logging.getLogger("smart-farm.audit")


def record_admin_visit(request):
    log.info("admin page viewed by %s", request.user["sub"])
