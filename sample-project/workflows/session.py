"""Sign-in with a form, sign-out, and a page that greets the signed-in user (README "Users")."""

from epctl.runtime.replies import page, sign_in, sign_out


def sign_in_with_form(request):
    form = request.body if isinstance(request.body, dict) else {}
    email, target = form.get("email", ""), local_path(form.get("next"))
    user = request.users.authenticate(email, form.get("password", ""))
    if user is None:
        # The same answer for an unknown email, a wrong password and a locked account.
        return page("login", {"failed": True, "email": email, "next": target}, status=401)
    return sign_in(user, to=target)


def sign_out_now(request):
    return sign_out(to="/login")


def greet(request):
    user = request.users.get(request.user["sub"])
    if user is None:  # a service token from `epctl token`: no account behind it
        return page("welcome", {"name": request.user["sub"], "email": "a service token", "groups": []})
    return page("welcome", {"name": user.name or user.email, "email": user.email, "groups": list(user.groups)})


def local_path(target):
    """Only a path of this site: `next` comes from the visitor, so never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/welcome"
    return target
