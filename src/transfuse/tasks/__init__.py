"""transfuse.tasks"""
