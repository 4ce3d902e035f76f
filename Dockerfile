FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN useradd --system --create-home --home-dir /home/crm --uid 10001 crm

# Dependencies first, so a code change does not reinstall them. The project installs no
# packages of its own (`packages = []`): only pyproject.toml is needed here.
COPY pyproject.toml ./
RUN pip install .

COPY . .

# whitenoise serves the hashed, compressed files collected here; only the secret is faked.
# The translations are compiled here (.mo files are never committed), in pure Python.
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput \
    && DJANGO_SECRET_KEY=build python manage.py messages_compile \
    && find var -path var/staticfiles -prune -o -exec chown crm:crm {} +

USER crm

EXPOSE 8000

CMD ["gunicorn", "crm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
