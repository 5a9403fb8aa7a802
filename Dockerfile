# One image for web, worker, beat and the gateway sandbox (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir --upgrade pip
COPY . .
RUN pip install --no-cache-dir -e . && python manage.py compilemessages --ignore=.venv || true
RUN python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "payments_admin.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
