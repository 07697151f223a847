-- A price is never negative and has a currency exactly when it has an amount (the validation's rule, now also
-- the database's, so a bad row cannot come from another writer).
ALTER TABLE jobs ADD CONSTRAINT jobs_price_check
    CHECK ((price_minor IS NULL) = (currency IS NULL) AND (price_minor IS NULL OR price_minor >= 0));
