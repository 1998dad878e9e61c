"""A person who uses only the keyboard (no mouse, no pointer events) can do an
admin's everyday job: sign in, create a user, let them into an app, and sign
out. Every step moves by Tab and acts by typing or Enter/Space, and the
element that has focus must show it (docs/admin.md, "Keyboard")."""

from __future__ import annotations

import pytest

from ostiary.services.rules import apps, groups, users
from tests.pages.conftest import ADMIN, PASSWORD, new_page

MAX_TABS = 250  # more than any page has focusable elements; a missing control fails rather than loops

# What the focused element looks like to a sighted keyboard user: an outline or a ring, never nothing.
_FOCUS_SHOWN = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return false;
  const s = getComputedStyle(e);
  return e.matches(':focus-visible') && ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                                          || s.boxShadow !== 'none');
}"""


def tab_to(page, selector: str, *, backwards: bool = False) -> None:
    """Presses Tab (or Shift+Tab) until the focused element matches `selector`, as a keyboard user would,
    and checks the focus is visible there."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            assert page.evaluate(_FOCUS_SHOWN), f"focus on {selector} is not visible at {page.url}"
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def press_and_wait(page, key: str = "Enter") -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


@pytest.mark.slow
def test_sign_in_create_a_user_let_them_into_an_app_and_sign_out_by_keyboard_alone(browser, world):
    page = new_page(browser, world)
    try:
        page.goto(world.url("/sign-in"))
        tab_to(page, "#login")
        page.keyboard.type(ADMIN)
        tab_to(page, "#password")
        page.keyboard.type(PASSWORD)
        press_and_wait(page)
        assert page.url == world.url("/"), page.url

        tab_to(page, "a[href='/admin']")
        press_and_wait(page)
        tab_to(page, "nav a[href='/admin/users']")
        press_and_wait(page)

        # Create a user with a password.
        tab_to(page, "#email")
        page.keyboard.type("kim@acme.test")
        tab_to(page, "#display_name")
        page.keyboard.type("Kim Keyboard")
        tab_to(page, "#password")
        page.keyboard.type(PASSWORD)
        tab_to(page, "form[action='/admin/users'] button[type=submit]")
        press_and_wait(page, "Space")
        kim = users.get_user(world.store, world.tenant_id, "kim@acme.test")
        assert kim.display_name == "Kim Keyboard"
        assert f"/admin/users/{kim.id}" in page.url, page.url

        # Let Kim into the wiki: the wiki admits the group "sales"; Kim joins it on her page.
        tab_to(page, "#group")
        page.keyboard.type("sales")
        press_and_wait(page)
        assert kim.id in groups.members(world.store, world.tenant_id, "sales")

        # And an app of its own, made on the apps page, that admits "sales" as well.
        tab_to(page, "nav a[href='/admin/apps']")
        press_and_wait(page)
        tab_to(page, "#name")
        page.keyboard.type("keyboard-tools")
        tab_to(page, "#url")
        page.keyboard.type(f"https://kb.acme-corp.test:{world.port}")
        tab_to(page, "form[action='/admin/apps'] button[type=submit]")
        press_and_wait(page)
        made = apps.get_app(world.store, world.tenant_id, "keyboard-tools")
        assert f"/admin/apps/{made.id}" in page.url, page.url
        tab_to(page, "#grant-group")
        page.keyboard.type("sales")
        press_and_wait(page)
        assert apps.app_grant_names(world.store, world.tenant_id, made.id) == ["sales"]

        # Sign out, from the account page the admin pages lead to.
        tab_to(page, "nav a[href='/account']")
        press_and_wait(page)
        tab_to(page, "form[action='/account/sessions/end'] button")
        press_and_wait(page)
        assert "signed out" in page.inner_text("h1").lower()
        page.goto(world.url("/admin"))
        assert "/sign-in" in page.url
    finally:
        page.context.close()
