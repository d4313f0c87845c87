def retry_delay(attempt, rand):
    # Wait a bit and try again. (What happens when forty clients do this together,
    # and what if the service never comes back?)
    return 200
