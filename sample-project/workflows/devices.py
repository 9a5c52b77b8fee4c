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
    return {"device": device_id, "readings": READINGS[device_id]}


def api_create_device(request):
    body = request.body or {}
    name = body.get("name")
    if not isinstance(name, str) or not name:
        return {"error": "a JSON body with a non-empty \"name\" is required"}, 400
    device_id = name.lower().replace(" ", "-")
    return {"id": device_id, "name": name, "created_by": request.user["sub"]}, 201
