-- A price is never negative and has a currency exactly when it has an amount. SQLite cannot add a CHECK to an
-- existing table without rebuilding it, so triggers enforce the same rule as Postgres's jobs_price_check.
CREATE TRIGGER jobs_price_check_insert BEFORE INSERT ON jobs
WHEN (NEW.price_minor IS NULL) <> (NEW.currency IS NULL) OR NEW.price_minor < 0
BEGIN
    SELECT RAISE(ABORT, 'jobs_price_check');
END;

CREATE TRIGGER jobs_price_check_update BEFORE UPDATE OF price_minor, currency ON jobs
WHEN (NEW.price_minor IS NULL) <> (NEW.currency IS NULL) OR NEW.price_minor < 0
BEGIN
    SELECT RAISE(ABORT, 'jobs_price_check');
END;
