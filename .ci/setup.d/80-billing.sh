# callbook-billing: Stripe's official Python library (stripe 16.1.0 from PyPI) in a venv, the oracle
# crates/billing/tests/stripe_python_oracle.rs checks webhook signature decisions against. Idempotent;
# sourced by .ci/run (may use as_root, $WORK and $ROOT). Exports CALLBOOK_TEST_STRIPE_PYTHON.
BILLING_VENV="$WORK/billing/stripe-venv"
if ! "$BILLING_VENV/bin/python" -c 'import stripe, sys; sys.exit(0 if stripe.VERSION == "16.1.0" else 1)' 2>/dev/null; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  fi
  mkdir -p "$WORK/billing"
  python3 -m venv "$BILLING_VENV"
  "$BILLING_VENV/bin/python" -m pip install -q --disable-pip-version-check 'stripe==16.1.0'
fi
export CALLBOOK_TEST_STRIPE_PYTHON="$BILLING_VENV/bin/python"
echo "stripe oracle: $CALLBOOK_TEST_STRIPE_PYTHON (stripe $("$BILLING_VENV/bin/python" -c 'import stripe; print(stripe.VERSION)'))"
