# callbook-pipeline: Python aiosmtpd (toolbox.md §6) in a venv, the SMTP sink the e-mail notification tests
# start on a loopback port (crates/pipeline/tests/notify_email.rs). Idempotent; sourced by .ci/run.
SMTP_VENV="$WORK/pipeline/smtp-venv"
if ! "$SMTP_VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  fi
  mkdir -p "$WORK/pipeline"
  python3 -m venv "$SMTP_VENV"
  "$SMTP_VENV/bin/python" -m pip install -q 'aiosmtpd==1.4.6'
fi
export CALLBOOK_TEST_SMTP_PYTHON="$SMTP_VENV/bin/python"
echo "smtp sink: $CALLBOOK_TEST_SMTP_PYTHON (aiosmtpd $("$SMTP_VENV/bin/python" -c 'import aiosmtpd; print(aiosmtpd.__version__)'))"
