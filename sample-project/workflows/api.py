"""Small API workflows: who am I, CSV export through a mixed-segment route, and a JSON catch-all."""

from epctl.runtime.replies import reply


def who_am_i(request):
    return {"sub": request.user["sub"], "groups": request.user.get("groups", [])}


def export_readings(request):
    name, ext = request.params["name"], request.params["ext"]
    if ext == "json":
        return {"export": name, "rows": [[1, 70], [2, 71]]}
    if ext == "csv":
        return reply("t,value\n1,70\n2,71\n", headers={"Content-Type": "text/csv; charset=utf-8"})
    return {"error": f"no {ext} export; use .json or .csv"}, 400


def not_found(request):
    return {"error": "No such API endpoint", "path": request.params.get("rest", "")}, 404
