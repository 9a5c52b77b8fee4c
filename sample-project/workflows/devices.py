"""Device workflows. Data is in memory so the sample runs with nothing else installed."""

from epctl.runtime.replies import page

DEVICES = {
    "tank-1": {"id": "tank-1", "name": "Water tank 1", "kind": "tank", "reading": 72, "unit": "%"},
    "soil-7": {"id": "soil-7", "name": "Soil probe 7", "kind": "moisture", "reading": 31, "unit": "%"},
    "barn-t": {"id": "barn-t", "name": "Barn thermometer", "kind": "temperature", "reading": 18.5,
               "unit": "°C"},
}
READINGS = {"tank-1": [70, 71, 72], "soil-7": [35, 33, 31], "barn-t": [17.9, 18.2, 18.5]}


def list_devices_page(request):
    return page("devices", {"devices": list(DEVICES.values())})


def show_device(request):
    device = DEVICES.get(request.params["deviceId"])
    if device is None:
        return page("not-found", status=404)
    attribute = request.params.get("attribute")
    if attribute is not None and attribute not in device:
        return {"error": f"unknown attribute {attribute!r}"}, 404
    value = device[attribute] if attribute else None
    return page("device", {"device": device, "attribute": attribute, "value": value})


def api_list_devices(request):
    return {"devices": list(DEVICES.values())}


def api_device_readings(request):
    device_id = request.params["deviceId"]
    if device_id not in READINGS:
        return {"error": "unknown device"}, 404
    # The endpoint's request schema has checked that limit, when given, is a whole number 1-100.
    limit = int(request.query.get("limit", "100"))
    return {"device": device_id, "readings": READINGS[device_id][-limit:]}


def api_create_device(request):
    # The endpoint's request schema has checked the body: an object with a non-empty "name".
    body = request.body
    device = {"id": body["name"].lower().replace(" ", "-"), "name": body["name"], "created_by": request.user["sub"]}
    if "kind" in body:
        device["kind"] = body["kind"]
    return device, 201
