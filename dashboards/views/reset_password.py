"""Password reset: ask for a reset link by email, or (opened from that link) choose a new password.

The answer to a request is the same whether or not the address has an account. The link's token
is single use and short-lived; it is dropped from the address bar once used.
"""

import streamlit as st

from dashboards.context import PAGES, auth, db_session, show_error
from oaktree.auth import request_password_reset, reset_password
from oaktree.auth.errors import AuthError, InvalidInput, InvalidToken
from oaktree.config import ConfigError

token = st.query_params.get("token")
st.title("Reset your password")

if not token:
    st.caption("Enter the email address of your account; we send a link to choose a new password.")
    with st.form("reset-request"):
        email = st.text_input("Email", key="reset-email", max_chars=254)
        email_problem = st.empty()
        requested = st.form_submit_button("Send reset link", type="primary")
    if requested:
        try:
            with db_session() as session:
                request_password_reset(session=session, ctx=auth(), email=email)
        except InvalidInput as exc:
            email_problem.error(f"Email {exc.errors.get('email', 'is not valid')}")
        except ConfigError as exc:
            show_error(f"Password reset is not available: {exc}")
        except AuthError as exc:
            show_error(str(exc))
        else:
            st.success(
                "If an account uses this address, a reset link is on its way. "
                "It works once, for a limited time."
            )
else:
    with st.form("reset-choose"):
        new = st.text_input("New password", type="password", key="reset-new", max_chars=1024)
        new_problem = st.empty()
        repeated = st.text_input("New password again", type="password", key="reset-repeat", max_chars=1024)
        repeat_problem = st.empty()
        chosen = st.form_submit_button("Set new password", type="primary")
    if chosen:
        if new != repeated:
            repeat_problem.error("The two passwords differ.")
        else:
            try:
                with db_session() as session:
                    reset_password(session=session, ctx=auth(), token=token, new_password=new)
            except InvalidInput as exc:
                new_problem.error("New password " + "; ".join(exc.errors.values()))
            except InvalidToken as exc:
                show_error(f"This reset link cannot be used: {exc}. Ask for a new one.")
            except AuthError as exc:
                show_error(str(exc))
            else:
                st.query_params.clear()
                st.success(
                    "Your password is changed and your other sessions have ended. Sign in with it now."
                )

st.page_link(str(PAGES["login"]), label="Back to sign in", icon=":material/login:")
