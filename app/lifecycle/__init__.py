"""The one owner of a contact's life cycle (SPEC §2): every change of a contact goes through here."""
