"""Create an account: username, email and password, each field with its own validation message.

Self-registration gives the viewer role (the very first account of an empty database becomes
admin); an admin changes roles on the Administration page.
"""

import streamlit as st

from dashboards.context import PAGES, auth, db_session, show_error
from oaktree.auth import register_user
from oaktree.auth.errors import AuthError, InvalidInput

st.title("Create your OakTree account")
st.caption("New accounts can view dashboards; an administrator grants operator or admin rights.")

with st.form("register"):
    username = st.text_input("Username", key="register-username", max_chars=64)
    username_problem = st.empty()
    email = st.text_input("Email", key="register-email", max_chars=254)
    email_problem = st.empty()
    password = st.text_input("Password", type="password", key="register-password", max_chars=1024)
    password_problem = st.empty()
    repeated = st.text_input("Password again", type="password", key="register-repeat", max_chars=1024)
    repeat_problem = st.empty()
    submitted = st.form_submit_button("Create account", type="primary")

if submitted:
    slots = {"username": username_problem, "email": email_problem, "password": password_problem}
    problems: dict[str, str] = {}
    if password != repeated:
        repeat_problem.error("The two passwords differ.")
    else:
        try:
            with db_session() as session:
                user = register_user(
                    session=session, ctx=auth(), username=username, email=email, password=password
                )
                created = (
                    f"Account {user.username} created ({', '.join(user.role_names)}). You can sign in now."
                )
        except InvalidInput as exc:
            problems = exc.errors
        except AuthError as exc:
            show_error(str(exc))
        else:
            st.success(created)
            st.page_link(str(PAGES["login"]), label="Sign in", icon=":material/login:")
    for field, problem in problems.items():
        slot = slots.get(field)
        # Our own problems are phrases ("must be at least 12 characters") that read on from the
        # field's name; the email validator's are whole sentences, which follow a colon.
        joiner = ": " if problem[:1].isupper() or field not in slots else " "
        message = f"{field.capitalize() if field in slots else field}{joiner}{problem}"
        (slot.error if slot is not None else st.error)(message)

st.page_link(str(PAGES["login"]), label="Already have an account? Sign in", icon=":material/login:")
