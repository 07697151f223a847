# callbook-storage: the raw-bytes scan test reads the s3s-fs data directory that .ci/run created.
export CALLBOOK_TEST_S3_DATA_DIR="$WORK/s3"
