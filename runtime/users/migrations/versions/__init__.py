"""One module per schema change, oldest first; `revisions.HEAD_REVISION` names the newest."""
