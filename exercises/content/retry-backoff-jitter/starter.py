def retry_delay(attempt, rand):
    # Wait a bit and try again. (What happens when every client does this together,
    # and what if the service never comes back?)
    return 200
