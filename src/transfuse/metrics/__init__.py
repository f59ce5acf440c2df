"""transfuse.metrics"""
