"""An admin imports a CSV through the dashboard: upload, fix a mapping, watch it finish, get the rejects."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from app.domain.statuses import CampaignType
from app.models import Contact
from tests.e2e.conftest import Demo
from tests.live import committed

# A German CRM export: the company column ("Arbeitgeber", employer) is not a name we recognise, so
# the preview would keep it as a custom field until the admin maps it to the company.
CSV_TEXT = (
    "Vorname;Nachname;LinkedIn-Link;Arbeitgeber\n"
    "Anna;Schmidt;https://de.linkedin.com/in/anna-schmidt-e2e/;Acme GmbH\n"
    "Ben;Müller;linkedin.com/in/ben-mueller-e2e;Globex\n"
    "Carl;Firma;https://www.linkedin.com/company/globex;Globex\n"
    "Dora;Keinlink;;Initech\n"
)


def test_upload_fix_mapping_progress_and_rejected_rows(
    browser: Browser, demo: Demo, admin_state: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "kontakte.csv"
    source.write_bytes(CSV_TEXT.encode("cp1252"))
    campaign_id = demo.campaign_ids[CampaignType.INMAIL]
    context = browser.new_context(storage_state=admin_state, accept_downloads=True)
    page = context.new_page()
    page.goto(demo.at("/imports"))
    page.select_option("select[name=campaign_id]", str(campaign_id))
    page.set_input_files("input[type=file]", str(source))
    page.click("text=Upload and preview")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("CP1252, semicolon-separated")
    expect(page.locator("select[name=map_2]")).to_have_value("linkedin_url")
    expect(page.locator("select[name=map_3]")).to_have_value("")
    expect(page.locator("tr[data-outcome=import]")).to_have_count(2)
    expect(page.locator("tr[data-outcome=invalid]")).to_have_count(2)
    page.select_option("select[name=map_3]", "company")
    expect(page.locator("select[name=map_3]")).to_have_value("company")
    page.click("#import-form button[type=submit]")
    expect(page.locator("#progress[data-state=done]")).to_be_visible(timeout=20_000)
    expect(page.locator("[data-count=imported]")).to_have_text("2")
    expect(page.locator("[data-count=invalid]")).to_have_text("2")
    with page.expect_download() as download:
        page.click("text=Download rejected rows")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0] == [
        *("Vorname", "Nachname", "LinkedIn-Link", "Arbeitgeber"),
        *("row", "line", "reason"),
    ]
    assert [r[0] for r in rows[1:]] == ["Carl", "Dora"]
    assert "company page" in rows[1][6] and "Missing LinkedIn profile URL" in rows[2][6]
    with committed(demo.engine) as session:
        stored = dict(
            session.execute(
                select(Contact.first_name, Contact.company).where(
                    Contact.campaign_id == campaign_id, Contact.linkedin_url.like("%-e2e")
                )
            ).all()
        )
        assert stored == {"Anna": "Acme GmbH", "Ben": "Globex"}
        assert (
            session.scalar(
                select(func.count()).where(
                    Contact.import_id.is_not(None), Contact.campaign_id == campaign_id
                )
            )
            == 2
        )
    # Undo removes what the import added.
    page.click("text=Undo this import")
    expect(page.locator(".badge", has_text="undone")).to_be_visible()
    with committed(demo.engine) as session:
        assert session.scalar(select(func.count()).where(Contact.linkedin_url.like("%-e2e"))) == 0
    context.close()
