"""Japanese unless the operator chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language, which would show an English admin
to a Japanese operator on an English-language browser. Here only an explicit choice (the language
cookie set by the switcher) changes the language.
"""

from django.conf import settings
from django.utils import translation


class ExplicitLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        request.LANGUAGE_CODE = language
        # Only for this request: the thread goes back to what it had (a test's own thread included).
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
