"""transfuse.data"""
