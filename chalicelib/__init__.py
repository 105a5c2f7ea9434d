"""avatarflow: profile pictures from a gallery or made on demand, on AWS Lambda."""
