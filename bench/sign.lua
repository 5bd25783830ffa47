-- wrk script: POST the signing endpoint with the key in $SIGNET_KEY.
wrk.method = "POST"
wrk.body = '{"expires_in": 3600}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SIGNET_KEY")
