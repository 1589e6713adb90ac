"""Attachments: save_attachment / load_attachment / delete_attachment."""

from tshelpers import check_error, file_attachment, q


def test_attachment_roundtrip_upsert_delete(api):
    att = file_attachment("atc_1a2b3c4d")
    r = api.put("/v1/attachments/atc_1a2b3c4d", att)
    assert r.status == 204, r
    r = api.get("/v1/attachments/atc_1a2b3c4d")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json"
    assert r.json == att

    img = {"id": "atc_1a2b3c4d", "type": "image", "name": "cat.png", "mime_type": "image/png",
           "preview_url": "https://files.example.com/cat.png?sig=a%2Fb&x=1"}
    assert api.put("/v1/attachments/atc_1a2b3c4d", img).status == 204
    assert api.get("/v1/attachments/atc_1a2b3c4d").json == img  # replaced, not merged

    r = api.delete("/v1/attachments/atc_1a2b3c4d")
    assert r.status == 204, r
    check_error(api.get("/v1/attachments/atc_1a2b3c4d"), 404, "not_found")
    assert api.delete("/v1/attachments/atc_1a2b3c4d").status == 204
    assert api.delete("/v1/attachments/atc_never000").status == 204


def test_attachment_needs_only_id(api):
    r = api.put("/v1/attachments/atc_only0000", {"id": "atc_only0000"})
    assert r.status == 204, r
    assert api.get("/v1/attachments/atc_only0000").json == {"id": "atc_only0000"}


def test_attachment_missing_404(api):
    check_error(api.get("/v1/attachments/atc_missing0"), 404, "not_found")


def test_attachment_id_errors_400(api):
    att = file_attachment("atc_aaaaaaaa")
    check_error(api.put("/v1/attachments/atc_bbbbbbbb", att), 400, "bad_request")
    check_error(api.put("/v1/attachments/atc_cccccccc", {"name": "x"}), 400, "bad_request")
    check_error(api.put("/v1/attachments/atc_dddddddd", {"id": 5}), 400, "bad_request")
    check_error(api.put("/v1/attachments/atc_eeeeeeee", '["atc_eeeeeeee"]'), 400,
                "bad_request")
    for aid in ("atc_aaaaaaaa", "atc_bbbbbbbb", "atc_cccccccc"):
        check_error(api.get("/v1/attachments/" + aid), 404)


def test_attachment_encoded_id(api):
    aid = "atc ä/1"
    att = file_attachment(aid)
    assert api.put("/v1/attachments/" + q(aid), att).status == 204
    assert api.get("/v1/attachments/" + q(aid)).json == att


def test_attachment_isolation(api, other_api):
    mine = file_attachment("atc_5a4e0000", name="mine.pdf")
    theirs = file_attachment("atc_5a4e0000", name="theirs.pdf")
    api.put("/v1/attachments/atc_5a4e0000", mine)
    check_error(other_api.get("/v1/attachments/atc_5a4e0000"), 404, "not_found")
    # The same id for another user is a separate attachment.
    assert other_api.put("/v1/attachments/atc_5a4e0000", theirs).status == 204
    assert api.get("/v1/attachments/atc_5a4e0000").json == mine
    assert other_api.get("/v1/attachments/atc_5a4e0000").json == theirs
    assert other_api.delete("/v1/attachments/atc_5a4e0000").status == 204
    assert api.get("/v1/attachments/atc_5a4e0000").json == mine
    check_error(other_api.get("/v1/attachments/atc_5a4e0000"), 404)
