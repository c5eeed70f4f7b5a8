# Relance: one image for the web server, the Celery worker and Celery beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements/prod.txt requirements/prod.txt
RUN pip install --require-hashes -r requirements/prod.txt

COPY . .

# Static files are collected at build time and served by WhiteNoise from gunicorn.
RUN DEBUG=0 ENV_FILE= SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    PUBLIC_BASE_URL=http://localhost SMS_OUTBOX_IN_PRODUCTION=1 EMBEDDED_LIMITS_IN_PRODUCTION=1 \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app relance \
    && chown -R relance /app/var

USER relance
EXPOSE 8000

CMD ["gunicorn", "retargeting.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
