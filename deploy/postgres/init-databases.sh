#!/bin/sh
# One database and one owner per service; each service sees only its own.
set -eu
for service in intake queue notify feedback; do
  password_var="LOKET_$(echo "$service" | tr a-z A-Z)_DB_PASSWORD"
  password=$(printenv "$password_var")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE USER loket_$service WITH PASSWORD '$password';
CREATE DATABASE loket_$service OWNER loket_$service;
REVOKE ALL ON DATABASE loket_$service FROM PUBLIC;
SQL
done
