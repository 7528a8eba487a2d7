"""Sign in: an HTML form posted to the server's login route, which sets the HttpOnly session cookie.

The password goes straight to `POST /session/login` (never through page state); a refused login
comes back as `?login_error=<code>`, shown here as a message.
"""

import html

import streamlit as st

from dashboards.context import PAGES, SESSION_ENDED_KEY
from dashboards.session_routes import LOGIN_PATH, login_error_message

st.title("Sign in to OakTree")
st.caption("Monitoring for your AWS estate: EC2, ECS and DynamoDB across regions.")

error = login_error_message(st.query_params.get("login_error"), st.query_params.get("minutes"))
if error:
    st.error(error, icon=":material/lock:")
elif ended := st.session_state.get(SESSION_ENDED_KEY):
    st.warning(ended)
elif st.query_params.get("signed_out"):
    st.success("You are signed out.")

st.html(
    f"""
<form method="post" action="{html.escape(LOGIN_PATH)}" class="oaktree-login" data-testid="oaktree-login-form">
  <label for="oaktree-identifier">Username or email</label>
  <input id="oaktree-identifier" name="identifier" type="text" autocomplete="username" required
         maxlength="254" autofocus>
  <label for="oaktree-password">Password</label>
  <input id="oaktree-password" name="password" type="password" autocomplete="current-password"
         required maxlength="1024">
  <button type="submit">Sign in</button>
</form>
<style>
  form.oaktree-login {{ display: flex; flex-direction: column; gap: 0.4rem; max-width: 26rem; }}
  form.oaktree-login input {{ padding: 0.5rem; border: 1px solid #9ca3af; border-radius: 0.4rem;
    font-size: 1rem; }}
  form.oaktree-login button {{ margin-top: 0.6rem; padding: 0.55rem; border: 0; border-radius: 0.4rem;
    background: #f97316; color: white; font-size: 1rem; font-weight: 600; cursor: pointer; }}
  form.oaktree-login button:hover {{ background: #ea580c; }}
</style>
"""
)

left, right = st.columns(2)
left.page_link(str(PAGES["register"]), label="Create an account", icon=":material/person_add:")
right.page_link(str(PAGES["reset_password"]), label="Forgot your password?", icon=":material/lock_reset:")
